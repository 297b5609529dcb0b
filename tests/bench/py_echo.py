# The classic Python thread-per-client echo server (the sample pichat grew
# from), in Python 3: greets, then answers every chunk with OK... + data.
import socket, sys, threading

HOST, PORT = '127.0.0.1', int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((HOST, PORT))
s.listen(1024)

def clientthread(conn):
    conn.send(b'Welcome to the server. Type something and hit enter\n')
    while True:
        data = conn.recv(1024)
        if not data:
            break
        conn.sendall(b'OK...' + data)
    conn.close()

while True:
    conn, addr = s.accept()
    print('Connected with ' + addr[0] + ':' + str(addr[1]))
    threading.Thread(target=clientthread, args=(conn,), daemon=True).start()
