"""Running a devlab stack with Compose: settings, secrets, images, up/down/status."""
