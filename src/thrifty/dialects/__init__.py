"""Translation between the OpenAI chat-completions and Anthropic messages wire dialects.

Providers translate at their boundary when the app's dialect differs from theirs, so the
rest of the pipeline always sees the app's own dialect.
"""

from thrifty.dialects.request_to_anthropic import DEFAULT_MAX_TOKENS, openai_to_anthropic_request
from thrifty.dialects.request_to_openai import anthropic_to_openai_request
from thrifty.dialects.responses import anthropic_to_openai_response, openai_to_anthropic_response
from thrifty.dialects.streams import AnthropicToOpenAIStream, OpenAIToAnthropicStream

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "AnthropicToOpenAIStream",
    "OpenAIToAnthropicStream",
    "anthropic_to_openai_request",
    "anthropic_to_openai_response",
    "openai_to_anthropic_request",
    "openai_to_anthropic_response",
]
