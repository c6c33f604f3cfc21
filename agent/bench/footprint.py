#!/usr/bin/env python3
"""Agent footprint, side by side in one run on this machine: heartline-agent vs Prometheus
node_exporter, zabbix_agent2 and collectd (Debian packages), each collecting every 10 s with a
typical configuration (system metrics + 5 checks for heartline-agent). Prints RSS and CPU per
collection cycle, and the stripped size of the agent binary.

    python3 agent/bench/footprint.py            # CYCLES=6 by default (60 s of measurement)

It installs the peers with apt-get if they are missing, builds heartline in release mode, starts a
hub for the agent to report to (not measured), and stops everything it started.
"""
import os, shutil, signal, socket, struct, subprocess, sys, tempfile, threading, time, http.server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CYCLES = int(os.environ.get("CYCLES", "6"))
INTERVAL = 10
PEERS = ["prometheus-node-exporter", "zabbix-agent2", "collectd-core"]


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def free_port(below=None):
    """A free loopback port; `below` picks one under a limit (Zabbix takes ports up to 32767,
    under the kernel's ephemeral range)."""
    import random
    while True:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", random.randrange(20000, below) if below else 0))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()


def cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    ticks = int(rest[11]) + int(rest[12])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def install_peers():
    missing = [p for p in PEERS if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        sh("apt-get", "update", "-qq", env=env)
        sh("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, env=env)


def zabbix_get(port, key):
    data = key.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"ZBXD\x01" + struct.pack("<Q", len(data)) + data)
        while s.recv(4096):
            pass


def scrape(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        while s.recv(65536):
            pass


def main():
    install_peers()
    sh("cargo", "build", "--release", "-q", "-p", "heartline-hub", cwd=ROOT)
    sh("cargo", "build", "--profile", "agent", "-q", "-p", "heartline-agent", cwd=ROOT)
    target_root = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    target = os.path.join(target_root, "release")
    work = tempfile.mkdtemp(prefix="footprint-")
    agent_bin = os.path.join(work, "heartline-agent")
    shutil.copy(os.path.join(target_root, "agent", "heartline-agent"), agent_bin)
    sh("strip", agent_bin)
    procs = []
    try:
        # A hub for the agent (not measured), with an inventory holding the agent's device.
        sh(os.path.join(target, "heartline-hub"), "init", "--dir", work, stdout=subprocess.DEVNULL)
        v4, v5, hport = free_port(), free_port(), free_port()
        with open(os.path.join(work, "hub.toml")) as f:
            hub_toml = f.read().replace("0.0.0.0:1883", f"127.0.0.1:{v4}").replace("0.0.0.0:1884", f"127.0.0.1:{v5}").replace("127.0.0.1:9090", f"127.0.0.1:{hport}")
        with open(os.path.join(work, "hub.toml"), "w") as f:
            f.write(hub_toml)
        inv = open(os.path.join(work, "inventory.toml")).read()
        key = inv.split('key = "')[1].split('"')[0]
        token = inv.split('token = "')[1].split('"')[0]
        hub = subprocess.Popen([os.path.join(target, "heartline-hub"), "run", "--config", os.path.join(work, "hub.toml")],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        procs.append(hub)
        hub.stdout.readline()

        # Something for the HTTP and TCP checks to look at.
        web_port = free_port()
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        web = http.server.ThreadingHTTPServer(("127.0.0.1", web_port), Quiet)
        threading.Thread(target=web.serve_forever, daemon=True).start()

        agent_toml = f"""[hub]
host = "127.0.0.1"
port = {v4}
tenant = "acme-health"
device_id = "acme-gw-1"
token = "{token}"
key = "{key}"
[agent]
interval = "{INTERVAL}s"
state_dir = "{work}/agent-state"
[[check]]
name = "init"
process = "python3"
[[check]]
name = "web"
http = "http://127.0.0.1:{web_port}/"
[[check]]
name = "web-port"
tcp = "127.0.0.1:{web_port}"
[[check]]
name = "mqtt-port"
tcp = "127.0.0.1:{v4}"
[[check]]
name = "plugin"
command = ["sh", "-c", "echo 'OK - fine | x=1'"]
"""
        open(os.path.join(work, "agent.toml"), "w").write(agent_toml)
        ne_port, zb_port = free_port(), free_port(below=32768)
        open(os.path.join(work, "zabbix_agent2.conf"), "w").write(
            f"Server=127.0.0.1\nListenPort={zb_port}\nListenIP=127.0.0.1\nLogType=console\nPidFile={work}/zabbix.pid\n"
            f"ControlSocket={work}/zabbix.sock\nPluginSocket={work}/zabbix-plugin.sock\n")
        open(os.path.join(work, "collectd.conf"), "w").write(
            f"Interval {INTERVAL}\nBaseDir \"{work}/collectd\"\nPIDFile \"{work}/collectd.pid\"\nPluginDir \"/usr/lib/collectd\"\n"
            "LoadPlugin cpu\nLoadPlugin memory\nLoadPlugin df\nLoadPlugin interface\nLoadPlugin load\nLoadPlugin swap\nLoadPlugin uptime\n"
            f"LoadPlugin csv\n<Plugin csv>\n  DataDir \"{work}/collectd-csv\"\n</Plugin>\n")
        os.makedirs(os.path.join(work, "collectd"), exist_ok=True)

        started = {
            "heartline-agent": subprocess.Popen([agent_bin, "run", "--config", os.path.join(work, "agent.toml")],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            "node_exporter": subprocess.Popen(["/usr/bin/prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{ne_port}"],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            "zabbix_agent2": subprocess.Popen(["/usr/sbin/zabbix_agent2", "-c", os.path.join(work, "zabbix_agent2.conf"), "-f"],
                                              stdout=open(os.path.join(work, "zabbix.log"), "w"), stderr=subprocess.STDOUT),
            "collectd": subprocess.Popen(["/usr/sbin/collectd", "-f", "-C", os.path.join(work, "collectd.conf")],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        }
        procs.extend(started.values())
        time.sleep(INTERVAL + 2)  # warm-up: one cycle each
        for name, p in started.items():
            if p.poll() is not None:
                log = open(os.path.join(work, "zabbix.log")).read()[-2000:] if name == "zabbix_agent2" else ""
                sys.exit(f"{name} exited early with {p.returncode}\n{log}")
        cpu0 = {n: cpu_ms(p.pid) for n, p in started.items()}
        for _ in range(CYCLES):
            # The pull-based peers collect when asked: ask them once per cycle.
            scrape(ne_port)
            for key in ["system.cpu.util", "vm.memory.size[pavailable]", "vfs.fs.size[/,pused]", "system.uptime", "system.cpu.load[all,avg1]"]:
                zabbix_get(zb_port, key)
            time.sleep(INTERVAL)
        rows = []
        for n, p in started.items():
            rows.append((n, rss_kib(p.pid) / 1024, (cpu_ms(p.pid) - cpu0[n]) / CYCLES))
        size = os.path.getsize(agent_bin) / (1024 * 1024)
        print(f"\nfootprint: {CYCLES} cycles of {INTERVAL} s, heartline-agent with 5 checks; stripped heartline-agent {size:.2f} MiB\n")
        print("| agent | RSS (MiB) | CPU per 10 s cycle (ms) |")
        print("|---|---|---|")
        for n, rss, cpu in rows:
            print(f"| {n} | {rss:.1f} | {cpu:.2f} |")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
