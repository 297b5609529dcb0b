#!/usr/bin/python3
"""RSS of idle WebSocket clients before and after they answer the server's
pings (tests/bench/RESULTS.md, "Browsers beside telnet users").

    ws_idle_pongs.py WEBPORT PID

Opens 300 WebSocket clients to pichatd's web service on 127.0.0.1:WEBPORT,
holds them 1 s, then 2.5 s more answering every ping with a pong, and
prints pichatd's (PID) RSS per client at both points. Run pichatd with
[server] idle_timeout_s = 4, so that it pings within the 2.5 s (half the
idle timeout). Bounded: 300 clients, 3.5 s, loopback only."""
import os
import select
import socket
import struct
import sys
import time
port=int(sys.argv[1]); pid=int(sys.argv[2]); N=300
def rss():
    for l in open('/proc/%d/status'%pid):
        if l.startswith('VmRSS'): return int(l.split()[1])
r0=rss()
socks=[]
for i in range(N):
    s=socket.create_connection(('127.0.0.1',port))
    s.sendall(('GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:%d\r\n\r\n'%(port,port)).encode())
    socks.append(s)
bufs={s:b'' for s in socks}
def pump(secs):
    end=time.time()+secs; pongs=0
    while time.time()<end:
        r,_,_=select.select(socks,[],[],0.1)
        for s in r:
            d=s.recv(65536); bufs[s]+=d
            b=bufs[s]
            if b.startswith(b'HTTP'):
                i=b.find(b'\r\n\r\n')
                if i<0: continue
                b=b[i+4:]
            while len(b)>=2:
                n=b[1]&0x7f; h=2
                if n==126: n=struct.unpack('>H',b[2:4])[0]; h=4
                if len(b)<h+n: break
                if b[0]&0x0f==9:
                    s.sendall(bytes([0x8a,0x80,0,0,0,0])); pongs+=1
                b=b[h+n:]
            bufs[s]=b
    return pongs
pump(1.0); r1=rss()
p=pump(2.5); r2=rss()
print('N=%d rss0=%d after1s=%d (%.2f KiB each) after pongs=%d (%.2f KiB each), pongs %d'%(N,r0,r1,(r1-r0)/N,r2,(r2-r0)/N,p))
