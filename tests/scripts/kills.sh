kill -0 12345 2>/dev/null
kill -9 12345 2>/dev/null
kill -0 12345 2>/dev/null
true
