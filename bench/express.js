'use strict';
/**
 * The anchor of the bench, a child process of bench/run.js: bare Express (`GET /bare`) and Express
 * with Auth0's express-oauth2-jwt-bearer (`GET /protected`, `auth({ issuerBaseURL, audience })`),
 * both answering `{}` as the Node-RED flows do, on 127.0.0.1 and an ephemeral port.
 *
 * argv[2] is the issuer (the demo provider, plain http on loopback, which the middleware accepts
 * outside NODE_ENV=production), argv[3] the audience. Says `{ type: 'ready', port }` over IPC;
 * stops when the parent goes away.
 */
const http = require('node:http');
const express = require('express');
const { auth } = require('express-oauth2-jwt-bearer');

const [issuerBaseURL, audience] = process.argv.slice(2);
const app = express();
app.get('/bare', (req, res) => res.json({}));
app.get('/protected', auth({ issuerBaseURL, audience }), (req, res) => res.json({}));

const server = http.createServer(app);
server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
process.on('disconnect', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
