'use strict';
/** Small HTTP servers on 127.0.0.1 with an ephemeral port, for the faults a real provider will not produce. */
const http = require('node:http');

/** Resolves a server listening on 127.0.0.1:<ephemeral> with this request handler. */
function listen(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

module.exports = { listen };
