// Bench peer: fastify + @fastify/reply-from (undici pool) — the framework-shaped Node proxy.
// Usage: node fastify-reply-from.js <h1|h2> <listenPort> <upstreamPort>
import Fastify, { type FastifyInstance } from 'fastify';
import replyFrom from '@fastify/reply-from';

const [mode, listenS, upstreamS] = process.argv.slice(2);
const listen = Number(listenS);
const upstream = Number(upstreamS);
const h2 = mode === 'h2';
// one code path for both: the h2c instance differs only in its server types
const app = (h2 ? Fastify({ logger: false, http2: true }) : Fastify({ logger: false, keepAliveTimeout: 60_000 })) as unknown as FastifyInstance;
await app.register(replyFrom, h2
  ? { base: `http://127.0.0.1:${upstream}`, http2: true }
  : { base: `http://127.0.0.1:${upstream}`, undici: { connections: 256, pipelining: 1 } });
// accept any body untouched so POSTs stream through
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', (_req, _payload, done) => done(null));
app.all('/*', (req, reply) => { reply.from(req.url); });
await app.listen({ port: listen, host: '127.0.0.1' });
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)); });
