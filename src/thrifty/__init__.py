"""thrifty: cut what you pay for LLM calls without cutting quality."""

from thrifty.types import ChatRequest, ChatResponse, Cost, Step, StreamEvent, Usage

__all__ = ["ChatRequest", "ChatResponse", "Cost", "Step", "StreamEvent", "Usage"]
__version__ = "0.1.0"
