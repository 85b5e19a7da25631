"""Streaming chat over Claude: a FastAPI app behind API Gateway (REST, response streaming) and the Lambda
Web Adapter.

The same ASGI app runs under uvicorn locally (`make local`) and in Lambda (`run.sh`), unchanged.
"""
