// Preloaded with `node --require`: the providers' real host names do not resolve. Each attempt is
// appended to $PAC_MOCK_BLOCKED_LOG and fails at once, as a closed port would.
"use strict";
const dns = require("dns");
const fs = require("fs");

const hosts = (process.env.PAC_MOCK_REAL_HOSTS || "").split(",").filter(Boolean);
const blocked = (name) => {
  const host = String(name || "").toLowerCase().replace(/\.$/, "");
  return hosts.some((h) => host === h || host.endsWith("." + h));
};
const refuse = (host) => {
  fs.appendFileSync(process.env.PAC_MOCK_BLOCKED_LOG, `${host}\n`);
  const err = new Error(`getaddrinfo ENOTFOUND ${host} (a real provider, blocked by the docs test)`);
  err.code = "ENOTFOUND";
  return err;
};
const lookup = dns.lookup;
dns.lookup = function (host, options, callback) {
  const cb = typeof options === "function" ? options : callback;
  if (blocked(host)) return process.nextTick(() => cb(refuse(host)));
  return lookup.apply(this, arguments);
};
const promiseLookup = dns.promises.lookup;
dns.promises.lookup = function (host, ...rest) {
  if (blocked(host)) return Promise.reject(refuse(host));
  return promiseLookup.call(this, host, ...rest);
};
