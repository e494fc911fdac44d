"""pymarl_explained: PyMARL, explained by running it."""
__version__ = "0.1.0"
