// A test workload for RealServersUnderLoadMigrationTest: Node.js's HTTP server keeping connections alive
// for a minute, and a setInterval timer ticking every 10 ms. Every answer is
// "<ticks> <requests served> <requests served on this connection>".
const http = require('http');

const port = Number(process.argv[2]);
let ticks = 0;
let requests = 0;
setInterval(() => { ticks++; }, 10);

const server = http.createServer((req, res) => {
  requests++;
  req.socket.served = (req.socket.served || 0) + 1;
  const body = `${ticks} ${requests} ${req.socket.served}\n`;
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 60000;
server.headersTimeout = 61000;
server.listen(port, '0.0.0.0');
