"""The ``srsci`` command line, installed as :mod:`srgan_sci.cli`."""
