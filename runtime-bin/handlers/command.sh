#!/bin/sh
# A bootstrap command handler (the default mode, _HANDLER='./command.sh'):
# the event on standard input, the response on standard output.
tr a-z A-Z
