# The classic samples' daytime client (RFC 867): connect to TCP port 13 of
# a time server, send nothing, print what one recv(4096) returns. Only the
# host and port differ from the sample: they come from the command line
# (daytime_client.py HOST PORT), the sample has a public server's written in.
import socket
import sys

host = sys.argv[1]
port = int(sys.argv[2])

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect((host, port))
s.sendall(b'')
print(s.recv(4096).decode())
s.close()
