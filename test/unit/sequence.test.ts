import { expect } from 'chai';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { AddressInfo } from 'node:net';
import { inSequence } from '../../src/http/middleware/sequence.js';

/** Answers with the steps that ran, or with the error that reached the error handler. */
async function run(...steps: RequestHandler[]): Promise<{ ran: string[]; error?: string }> {
  const app = express();
  app.use((req, _res, next) => {
    (req as unknown as { ran: string[] }).ran = [];
    next();
  });
  app.use(inSequence(...steps));
  app.use((req, res) => {
    res.json({ ran: (req as unknown as { ran: string[] }).ran });
  });
  const onError: ErrorRequestHandler = (error, req, res, _next) => {
    res.json({ ran: (req as unknown as { ran: string[] }).ran, error: String(error.message ?? error) });
  };
  app.use(onError);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    return (await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)).json()) as {
      ran: string[];
      error?: string;
    };
  } finally {
    server.close();
  }
}

const step =
  (name: string): RequestHandler =>
  (req, _res, next) => {
    (req as unknown as { ran: string[] }).ran.push(name);
    next();
  };

describe('inSequence', () => {
  it('runs every step in order, then the next Express layer', async () => {
    expect(await run(step('a'), step('b'), step('c'))).to.deep.equal({ ran: ['a', 'b', 'c'] });
  });

  it('sends a thrown error, a rejection and next(error) to the error handler, skipping the rest', async () => {
    const thrower: RequestHandler = () => {
      throw new Error('thrown');
    };
    const rejecter: RequestHandler = async () => {
      throw new Error('rejected');
    };
    const passer: RequestHandler = (_req, _res, next) => next(new Error('passed'));
    expect(await run(step('a'), thrower, step('b'))).to.deep.equal({ ran: ['a'], error: 'thrown' });
    expect(await run(step('a'), rejecter, step('b'))).to.deep.equal({ ran: ['a'], error: 'rejected' });
    expect(await run(step('a'), passer, step('b'))).to.deep.equal({ ran: ['a'], error: 'passed' });
  });

  it("treats next('route') as next(), as Express does for middleware", async () => {
    const route: RequestHandler = (_req, _res, next) => next('route');
    expect(await run(step('a'), route, step('b'))).to.deep.equal({ ran: ['a', 'b'] });
  });
});
