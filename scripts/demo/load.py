"""Send a steady mix of requests to the demo service for a while (stdlib only)."""
import sys
import threading
import time
import urllib.request

port, seconds = int(sys.argv[1]), float(sys.argv[2])
end = time.monotonic() + seconds


def client(paths):
    i = 0
    while time.monotonic() < end:
        try:
            urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, paths[i % len(paths)]),
                                   timeout=10).read()
        except OSError:
            time.sleep(0.1)
        i += 1
        time.sleep(0.1)


threads = [threading.Thread(target=client, args=(["/users/%d" % n for n in range(k, 100, 3)],))
           for k in range(3)]
threads.append(threading.Thread(target=client, args=(["/health"] * 20 + ["/report"],)))
for t in threads:
    t.start()
for t in threads:
    t.join()
