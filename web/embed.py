#!/usr/bin/env python3
"""Builds the page's files into pichatd: writes a C file with one table
entry per asset (web/README.md lists them), each with its bytes, its
Content-Type and a strong ETag made from its content.

    embed.py OUT.c FILE...

Only the files named here are ever served: a request's path is looked up
in this table, never on the filesystem."""
import hashlib
import os
import sys

TYPES = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.svg': 'image/svg+xml',
    '.png': 'image/png',
}

out, files = sys.argv[1], sys.argv[2:]
rows, arrays = [], []
for i, path in enumerate(files):
    name = os.path.basename(path)
    data = open(path, 'rb').read()
    ext = os.path.splitext(name)[1]
    url = '/' if name == 'index.html' else '/' + name
    etag = hashlib.sha1(data).hexdigest()[:16]
    body = ','.join(str(b) for b in data)
    arrays.append('static const unsigned char asset_%d[] = {%s,0};' % (i, body))
    rows.append('        { "%s", "%s", asset_%d, %d, "\\"%s\\"", %s },'
                % (url, TYPES[ext], i, len(data), etag, 'true' if ext == '.html' else 'false'))

with open(out, 'w') as f:
    f.write('/* Made by web/embed.py from web/: do not edit. */\n#include "web.h"\n\n')
    f.write('\n'.join(arrays) + '\n\n')
    f.write('const struct web_asset web_assets[] = {\n' + '\n'.join(rows) + '\n};\n')
    f.write('const size_t web_assets_count = sizeof(web_assets) / sizeof(web_assets[0]);\n')
