"""The OpenAI- and Anthropic-compatible HTTP gateway."""

from thrifty.gateway.app import create_app

__all__ = ["create_app"]
