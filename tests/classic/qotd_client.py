# The classic samples' quote-of-the-day client (RFC 865): send an empty
# datagram to UDP port 17 and print the answer, decoded. Only the host and
# port differ from the sample: they come from the command line
# (qotd_client.py HOST PORT), the sample has a public server's written in.
import socket
import sys

host = sys.argv[1]
port = int(sys.argv[2])

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'', (host, port))
data, addr = s.recvfrom(1024)
print(data.decode())
s.close()
