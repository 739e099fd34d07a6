# Downloads one magnet with libtorrent (Debian's python3-libtorrent) into a folder and prints, as JSON, the seconds
# from adding the torrent until it held every piece. DHT, local discovery and port mapping stay off, so no traffic
# leaves the machine.
#   python3 libtorrent-fetch.py MAGNET OUT_DIR LISTEN_PORT TIMEOUT_S
import json
import sys
import time

import libtorrent as lt

magnet, out, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
session = lt.session({
    'listen_interfaces': f'127.0.0.1:{port}',
    'enable_dht': False,
    'enable_lsd': False,
    'enable_upnp': False,
    'enable_natpmp': False,
    # The server and any other peer of a local job share 127.0.0.1.
    'allow_multiple_connections_per_ip': True,
})
params = lt.parse_magnet_uri(magnet)
params.save_path = out
started = time.monotonic()
handle = session.add_torrent(params)
while not handle.status().is_seeding:
    if time.monotonic() - started > timeout:
        print(json.dumps({'error': f'not complete after {timeout} s', 'progress': handle.status().progress}))
        sys.exit(1)
    time.sleep(0.01)
print(json.dumps({'seconds': time.monotonic() - started, 'name': handle.status().name}))
