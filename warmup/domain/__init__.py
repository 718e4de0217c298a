"""The vocabulary of the domain: statuses, categories and review choices, who acts, the
retry policy, the errors and refusals, validation of what people and bots write. Below the
models; imports nothing of Django's database."""
