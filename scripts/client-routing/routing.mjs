// The Node half of routing.py: one cluster client, driven by JSON lines.
//
//   node routing.mjs <node-redis|ioredis-call|ioredis-keyed> <port,port,port>
//
// Prints {"name", "how"} first, then reads one request per line on stdin:
//   {"op": "routing", "users": [...]}     → {"calls", "errors", "tryagain_retries"}
//   {"op": "wrong", "plan": [{"user", "port", "decoy"}]}
//   {"op": "reshard", "users": [...]}     → {"ready": true}; then traffic until
//   {"op": "stop"}                        → {"calls", ..., "sweeps"}
//   {"op": "quit"}
// The workloads are the same as routing.py's (routing_workload,
// wrong_node_workload, ReshardTraffic): Python only counts the redirects
// the servers saw.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { createCluster } from "redis";
import { Cluster, Command } from "ioredis";

const TRYAGAIN_RETRIES = 200;
const TRYAGAIN_DELAY_MS = 10;

const [kind, portList] = process.argv.slice(2);
const ports = portList.split(",").map(Number);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ioredis knows the key positions of the commands in its own table only;
// for any other command (every module command) it has no slot and sends the
// command to a random node. Naming the routing key restores slot routing,
// and the command still goes through Cluster.sendCommand, so MOVED, ASK and
// TRYAGAIN are handled as for a built-in command.
class KeyedCommand extends Command {
  constructor(args, routingKey) {
    super(args[0], args.slice(1), { replyEncoding: "utf8" });
    this.routingKey = routingKey;
  }
  getKeys() {
    return [this.routingKey];
  }
}

// A driver: call(args, routingKey) → reply. routingKey is args[1] unless the
// caller deliberately routes elsewhere (the wrong-node run).
async function makeDriver() {
  if (kind === "node-redis") {
    const cluster = createCluster({
      rootNodes: ports.map((p) => ({ url: `redis://127.0.0.1:${p}` })),
      RESP: 2,
    });
    cluster.on("error", () => {});
    await cluster.connect();
    return {
      name: "node-redis createCluster",
      how: "cluster.sendCommand(token, false, ['MTOKEN.VERIFY', token])",
      call: (args, key) => cluster.sendCommand(key ?? args[1], args[0] === "MTOKEN.VERIFY_RO" || args[0] === "MTOKEN.LIST", args),
      close: () => cluster.close(),
    };
  }
  const cluster = new Cluster(ports.map((port) => ({ host: "127.0.0.1", port })));
  cluster.on("error", () => {});
  await new Promise((resolve, reject) => {
    cluster.once("ready", resolve);
    setTimeout(() => reject(new Error("ioredis cluster not ready in 30 s")), 30000).unref();
  });
  const close = () => cluster.quit();
  if (kind === "ioredis-call") {
    return {
      name: "ioredis Cluster, call()",
      how: "cluster.call('MTOKEN.VERIFY', token)",
      call: (args, key) => {
        if (key !== undefined) throw new Error("ioredis-call cannot be routed");
        return cluster.call(...args);
      },
      close,
    };
  }
  if (kind === "ioredis-keyed") {
    return {
      name: "ioredis Cluster, keyed sendCommand",
      how: "cluster.sendCommand(new KeyedCommand(['MTOKEN.VERIFY', token], token))",
      call: (args, key) => cluster.sendCommand(new KeyedCommand(args, key ?? args[1])),
      close,
    };
  }
  throw new Error(`unknown client ${kind}`);
}

const tokenId = (t) => createHash("sha256").update(t).digest().subarray(0, 15).toString("hex");

function listIds(reply) {
  return (reply ?? []).map((e) => {
    if (e instanceof Map) return e.get("id");
    if (Array.isArray(e)) return e[e.indexOf("id") + 1];
    return e.id;
  });
}

function newResult() {
  return { calls: 0, errors: [], tryagain_retries: 0 };
}

function counted(drv, res) {
  return async (args, key) => {
    res.calls += 1;
    for (let attempt = 0; ; attempt++) {
      try {
        return await drv.call(args, key);
      } catch (e) {
        if (!String(e.message).startsWith("TRYAGAIN") || attempt === TRYAGAIN_RETRIES) throw e;
        res.tryagain_retries += 1;
        await sleep(TRYAGAIN_DELAY_MS);
      }
    }
  };
}

function expect(res, what, got, want) {
  const same = JSON.stringify(got) === JSON.stringify(want);
  if (!same && res.errors.length < 20) res.errors.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

async function routingWorkload(call, users, res) {
  for (const [i, u] of users.entries()) {
    try {
      const args = ["MTOKEN.CREATE", u, "NAME", `dev${i}`, ...(i % 2 ? ["TTL", "3600"] : [])];
      const [token, first] = await call(args);
      expect(res, `CREATE ${u} first`, Number(first), 1);
      expect(res, `VERIFY ${u}`, await call(["MTOKEN.VERIFY", token]), u);
      expect(res, `VERIFY_RO ${u}`, await call(["MTOKEN.VERIFY_RO", token]), u);
      expect(res, `LIST ${u}`, listIds(await call(["MTOKEN.LIST", u])), [tokenId(token)]);
      if (i % 3 === 0) expect(res, `EXPIRE ${u}`, Number(await call(["MTOKEN.EXPIRE", token])), 1);
      else if (i % 3 === 1) expect(res, `REVOKE ${u}`, Number(await call(["MTOKEN.REVOKE", u, tokenId(token)])), 1);
      else expect(res, `EXPIREALL ${u}`, Number(await call(["MTOKEN.EXPIREALL", u])), 1);
      expect(res, `VERIFY ${u} after logout`, await call(["MTOKEN.VERIFY", token]), null);
    } catch (e) {
      res.errors.push(`${u}: ${e.message}`);
    }
  }
}

async function wrongNodeWorkload(call, plan, res) {
  const tokens = new Map();
  for (const { user } of plan) {
    try {
      tokens.set(user, (await call(["MTOKEN.CREATE", user]))[0]);
    } catch (e) {
      res.errors.push(`CREATE ${user}: ${e.message}`);
    }
  }
  for (const { user, port, decoy } of plan) {
    if (!tokens.has(user)) continue;
    try {
      // The routing key's slot is served by `port`, not by the user's node.
      expect(res, `VERIFY ${user} via ${port}`, await call(["MTOKEN.VERIFY", tokens.get(user)], decoy), user);
    } catch (e) {
      res.errors.push(`VERIFY ${user} via ${port}: ${e.message}`);
    }
  }
}

class ReshardTraffic {
  constructor(call, users, res) {
    Object.assign(this, { call, users, res, tokens: new Map(), stopping: false, sweeps: 0 });
  }
  async setup() {
    for (const u of this.users) this.tokens.set(u, (await this.call(["MTOKEN.CREATE", u]))[0]);
  }
  async run() {
    const { res, call } = this;
    while (!this.stopping) {
      for (const [i, u] of this.users.entries()) {
        try {
          expect(res, `VERIFY ${u}`, await call(["MTOKEN.VERIFY", this.tokens.get(u)]), u);
          if (i % 5 === 0) {
            const [extra] = await call(["MTOKEN.CREATE", u, "TTL", "600"]);
            expect(res, `VERIFY extra ${u}`, await call(["MTOKEN.VERIFY", extra]), u);
            expect(res, `EXPIRE extra ${u}`, Number(await call(["MTOKEN.EXPIRE", extra])), 1);
          }
        } catch (e) {
          if (res.errors.length < 20) res.errors.push(`${u}: ${e.message}`);
        }
      }
      this.sweeps += 1;
    }
  }
  async finish() {
    for (const u of this.users) {
      try {
        expect(this.res, `final VERIFY ${u}`, await this.call(["MTOKEN.VERIFY", this.tokens.get(u)]), u);
        expect(this.res, `final EXPIREALL ${u}`, Number(await this.call(["MTOKEN.EXPIREALL", u])), 1);
      } catch (e) {
        this.res.errors.push(`final ${u}: ${e.message}`);
      }
    }
  }
}

const send = (msg) => process.stdout.write(JSON.stringify(msg) + "\n");

async function main() {
  const drv = await makeDriver();
  const pkg = kind === "node-redis" ? "redis" : "ioredis";
  const { version } = JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url)));
  send({ name: drv.name, how: drv.how, version: `${pkg} ${version}, node ${process.version}` });
  let traffic = null;
  let running = null;
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const msg = JSON.parse(line);
    if (msg.op === "quit") break;
    if (msg.op === "routing") {
      const res = newResult();
      await routingWorkload(counted(drv, res), msg.users, res);
      send(res);
    } else if (msg.op === "wrong") {
      const res = newResult();
      await wrongNodeWorkload(counted(drv, res), msg.plan, res);
      send(res);
    } else if (msg.op === "reshard") {
      const res = newResult();
      traffic = new ReshardTraffic(counted(drv, res), msg.users, res);
      try {
        await traffic.setup();
      } catch (e) {
        res.errors.push(`setup: ${e.message}`);
        send({ ...res, error: true, sweeps: 0 });
        continue;
      }
      running = traffic.run(); // runs while we wait for "stop"
      send({ ready: true });
    } else if (msg.op === "stop") {
      traffic.stopping = true;
      await running;
      await traffic.finish();
      send({ ...traffic.res, sweeps: traffic.sweeps });
    }
  }
  lines.close();
  await drv.close();
  process.exit(0);
}

main().catch((e) => {
  send({ fatal: String(e?.stack ?? e) });
  process.exit(1);
});
