# The classic Python UDP echo server, in Python 3: answers every datagram
# with OK... + datagram.
import socket, sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', int(sys.argv[1])))

while True:
    data, addr = s.recvfrom(1024)
    s.sendto(b'OK...' + data, addr)
