this file holds mapping tests and is not configuration {
