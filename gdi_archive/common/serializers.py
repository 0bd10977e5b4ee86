"""Reading a request body through an input serializer, the one way API views take input."""


def validated(serializer_class, request) -> dict:
    """The body checked by `serializer_class`; a bad one is a 400 InvalidInput (via the exception handler)."""
    serializer = serializer_class(data=request.data if request.data is not None else {})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
