import socket
s=socket.socket()
s.bind(("127.0.0.1",0))
s.listen()
c=socket.create_connection(s.getsockname())
c.close()
