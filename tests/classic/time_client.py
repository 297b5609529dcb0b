# The client of the classic samples' TCP time server (which sends
# time.ctime() + "\r\n" and closes: pichatd's daytime service with
# [daytime] format = ctime): one recv(1024), printed. Only the host and
# port differ from the sample: they come from the command line
# (time_client.py HOST PORT); the sample uses its own host name and 9991.
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

host = sys.argv[1]
port = int(sys.argv[2])

s.connect((host, port))

tm = s.recv(1024)
print(' Current time from Sever :', tm.decode())
s.close()
