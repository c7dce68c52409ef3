// node-soap against the sandbox, built from the WSDL the sandbox serves. Prints JSON.
//
//   node soapclient.js <base-url> sf <1.1|1.2> <uuid>         cancelarAsincrono, then getStatusCancelacionAsincrona
//   node soapclient.js <base-url> xpd <signed-cancelacion.xml>  cancelar (Pruebas)
//   node soapclient.js <base-url> mysuite <1.1|1.2> <guid>      RequestTransaction ASYNC_CONVERT_VERIFY
//
// The `soap` package is looked up through NODE_PATH (scripts/test-deps.sh installs it in
// tests/clients/.deps). A failed call prints {"fault": ..., "request": ..., "response": ...} and exits 2.
"use strict";
const fs = require("fs");
const util = require("util");
const soap = require("soap");

const SF_USER = { usuario: "testing@solucionfactible.com", password: "timbrado.SF.16672" };
const MS_ID = "0c320b03-d4f1-47bc-9fb4-77995f9bf33e";

// node-soap puts a service's operations straight on the client for its last port; pick the port
// explicitly instead, and ask for a SOAP 1.2 envelope when the port is a SOAP 1.2 one.
async function port(wsdl, service, name, version) {
  const client = await soap.createClientAsync(wsdl, { forceSoap12Headers: version === "1.2" });
  const ops = client[service][name];
  const call = (op, args) => util.promisify(ops[op].bind(ops))(args);
  return { client, call };
}

function wire(client) {
  return { endpoint: client.lastEndpoint, request_headers: client.lastRequestHeaders };
}

async function main([base, provider, ...args]) {
  let c;
  try {
    if (provider === "sf") {
      const [version, uuid] = args;
      const name = version === "1.2" ? "CancelacionHttpsSoap12Endpoint" : "CancelacionHttpsSoap11Endpoint";
      c = await port(`${base}/ws/services/Cancelacion?wsdl`, "Cancelacion", name, version);
      const cancel = await c.call("cancelarAsincrono", { ...SF_USER, uuid: `${uuid}|02|`, rfcEmisor: "MOC900101AB1" });
      const status = await c.call("getStatusCancelacionAsincrona", { ...SF_USER, transactionId: uuid });
      return { cancelarAsincrono: cancel, getStatusCancelacionAsincrona: status, ...wire(c.client) };
    }
    if (provider === "xpd") {
      const [path] = args;
      c = await port(`${base}/cancelacion/CancelacionPruebas?wsdl`, "CancelacionPruebas",
        "CancelacionPruebasPort", "1.1");
      // xmlBytes is base64Binary: node-soap sends the text it is given, so encode it here.
      const xmlBytes = fs.readFileSync(path).toString("base64");
      const result = await c.call("cancelar", { usuario: "pruebas", token: "123456", xmlBytes });
      return { cancelar: result, ...wire(c.client) };
    }
    if (provider === "mysuite") {
      const [version, guid] = args;
      c = await port(`${base}/mx.com.fact.wsfront/factwsfront.asmx?wsdl`, "FactWSFront",
        version === "1.2" ? "FactWSFrontSoap12" : "FactWSFrontSoap", version);
      const result = await c.call("RequestTransaction", {
        Requestor: MS_ID, Transaction: "ASYNC_CONVERT_VERIFY", Country: "MX", Entity: "JES900109Q90",
        User: MS_ID, UserName: "MX.JES900109Q90.Juan", Data1: guid, Data2: "", Data3: "",
      });
      return { RequestTransaction: result, ...wire(c.client) };
    }
    process.stderr.write("usage: node soapclient.js <base-url> sf|xpd|mysuite ...\n");
    process.exit(64);
  } catch (err) {
    process.stdout.write(JSON.stringify({
      fault: err.message, request: c && c.client.lastRequest, response: err.body || null,
      status: err.response ? err.response.status : null, root: err.root || null,
    }, null, 2) + "\n");
    process.exit(2);
  }
}

main(process.argv.slice(2)).then((out) => process.stdout.write(JSON.stringify(out, null, 2) + "\n"));
