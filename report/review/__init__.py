"""`oyster review`: a local web app for reading pairs and marking them and their judges' verdicts."""
