"""The SDK wrappers a board can run: this project's ``honch/`` or a published release."""
