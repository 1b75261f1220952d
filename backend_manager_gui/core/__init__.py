from . import quiet_httpx

# every poll and worker probe would otherwise be an INFO line from httpx (see quiet_httpx)
quiet_httpx.install()
