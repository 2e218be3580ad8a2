// The baseline for `npm run bench`: the same stack as the service (Express 5,
// express-openapi-validator on the same spec, an HS256 check with a KeyObject
// secret) and no database, answering GET /protected and GET /users/{id} with
// fixed bodies. What the service costs beyond it is the service's own work.
import express from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import jwt from 'jsonwebtoken';
import { createSecretKey } from 'node:crypto';
import { loadSpec } from '../src/contract/spec.js';

const key = createSecretKey(Buffer.from(process.env.JWT_SECRET!, 'utf8'));
const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '16kb' }));
app.use(
  OpenApiValidator.middleware({
    apiSpec: loadSpec() as unknown as Parameters<typeof OpenApiValidator.middleware>[0]['apiSpec'],
    validateRequests: true,
    validateResponses: false,
    validateSecurity: false,
  }),
);
const requireToken: express.RequestHandler = (req, res, next) => {
  try {
    jwt.verify((req.headers.authorization ?? '').slice('Bearer '.length), key, { algorithms: ['HS256'] });
    next();
  } catch {
    res.status(401).json({ error: 'Invalid or expired token' });
  }
};
app.get('/protected', requireToken, (_req, res) => {
  res.json({ message: 'Token is valid' });
});
app.get('/users/:user_id', requireToken, (req, res) => {
  res.json({
    id: Number(req.params.user_id),
    email: 'seed@example.com',
    user_name: 'seed',
    first_name: 'Seed',
    last_name: 'User',
    role: 'user',
  });
});
app.listen(Number(process.env.PORT), '127.0.0.1');
