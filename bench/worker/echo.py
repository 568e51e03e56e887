"""The worker benchmark's handler: the event back. awslambdaric runs it as
`echo.handle`; worker_echo.py runs the same function as a bootstrap worker."""


def handle(event, context):
    return event
