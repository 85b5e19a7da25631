"""CDK constructs and stacks for claude-serverless-kit."""
