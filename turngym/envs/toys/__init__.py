"""Small built-in games for tests, demos and the credit-assignment benchmark."""
