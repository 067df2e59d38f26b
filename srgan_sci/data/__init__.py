"""Small sample images shipped with srgan_sci (see :mod:`srgan_sci.data.make_samples`)."""
