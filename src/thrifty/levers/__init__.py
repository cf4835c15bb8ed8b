"""The levers: stages that make calls cheaper, smaller or fewer."""
