import { expect } from 'chai';
import { errorTextsOf, loadSpec, resolveRef, type SpecNode } from '../../src/contract/spec.js';
import { SECURITY_EVENT_TYPES } from '../../src/domain/ports.js';
import { FALLBACK_TEXTS } from '../../src/http/errors.js';
import { operationsOf, resolveOperation } from '../../src/http/operations.js';

describe('spec operation table', () => {
  const spec = loadSpec();
  const operations = operationsOf(spec, { enabled: new Set(), fallbackTexts: FALLBACK_TEXTS });
  const byId = (id: string) => operations.find((o) => o.id === id)!;

  it('has the eight operations of the contract, and the two health probes', () => {
    expect(operations.map((o) => o.id)).to.include.members([
      'createUser',
      'getUser',
      'updateUser',
      'updateUserPassword',
      'listUsers',
      'login',
      'logout',
      'checkToken',
      'checkLiveness',
      'checkReadiness',
    ]);
  });

  it('resolves fixed paths before templates, HEAD as GET, and says which methods a path allows', () => {
    expect(resolveOperation(operations, 'GET', '/users/pagination').operation?.id).to.equal('listUsers');
    expect(resolveOperation(operations, 'GET', '/users/12').operation?.id).to.equal('getUser');
    expect(resolveOperation(operations, 'HEAD', '/users/12').operation?.id).to.equal('getUser');
    expect(resolveOperation(operations, 'PUT', '/users/update/12').operation?.id).to.equal('updateUser');
    expect(resolveOperation(operations, 'DELETE', '/users/12')).to.deep.equal({
      operation: undefined,
      allowedMethods: ['GET', 'HEAD'],
    });
    expect(resolveOperation(operations, 'GET', '/users')).to.deep.equal({
      operation: undefined,
      allowedMethods: ['POST'],
    });
    expect(resolveOperation(operations, 'GET', '/nowhere')).to.deep.equal({ operation: undefined, allowedMethods: [] });
  });

  it('keeps path parameters percent-encoded, for a check that can refuse bad escapes', () => {
    const resolved = resolveOperation(operations, 'GET', '/users/%41');
    expect(resolved.operation && resolved.params).to.deep.equal({ user_id: '%41' });
  });

  it('knows which parameters are integers', () => {
    expect(byId('getUser').integerParameters).to.deep.equal([{ in: 'path', name: 'user_id' }]);
    expect(byId('listUsers').integerParameters).to.deep.equal([
      { in: 'query', name: 'page' },
      { in: 'query', name: 'per_page' },
    ]);
    expect(byId('login').integerParameters).to.deep.equal([]);
  });

  it('reads who needs a token from the spec, and a setting can make an optional token required', () => {
    const requirement = Object.fromEntries(operations.map((o) => [o.id, o.tokenRequirement]));
    expect(requirement).to.include({
      createUser: 'optional',
      listUsers: 'optional',
      login: 'none',
      getUser: 'required',
      updateUser: 'required',
      updateUserPassword: 'required',
      logout: 'required',
      checkToken: 'required',
      checkLiveness: 'none',
      checkReadiness: 'none',
    });
    const strict = operationsOf(spec, {
      enabled: new Set(['USERS_LIST_REQUIRES_AUTH']),
      fallbackTexts: FALLBACK_TEXTS,
    });
    expect(strict.find((o) => o.id === 'listUsers')!.tokenRequirement).to.equal('required');
    expect(strict.find((o) => o.id === 'createUser')!.tokenRequirement).to.equal('optional');
  });

  it("takes each operation's 400 and 401 texts from its documented responses", () => {
    expect(byId('listUsers').texts).to.deep.equal({
      invalidInput: 'wrong parameters page, per_page',
      authenticationFailed: 'Unauthorized: User authentication failed',
    });
    expect(byId('checkToken').texts.authenticationFailed).to.equal('Invalid or expired token');
    expect(byId('logout').texts.authenticationFailed).to.equal('Invalid or expired token');
    expect(byId('updateUserPassword').texts.invalidInput).to.equal('Incorrect field');
    expect(byId('getUser').texts).to.deep.equal({
      invalidInput: 'Incorrect field',
      authenticationFailed: 'Unauthorized: User authentication failed',
    });
  });

  it('knows the statuses each operation documents, and which count outcomes', () => {
    expect([...byId('checkToken').statuses].sort()).to.deep.equal([200, 401, 403, 500]);
    expect(byId('login').outcomeMetric).to.equal('logins');
    expect(byId('getUser').outcomeMetric).to.equal(undefined);
  });

  it('lists the same kinds of audit events as the domain', () => {
    const reference: SpecNode = { $ref: '#/components/schemas/SecurityEventType' };
    const documented = resolveRef(spec, reference).enum;
    expect(documented).to.deep.equal([...SECURITY_EVENT_TYPES]);
  });

  it('reads the role each admin operation requires from the spec', () => {
    const adminOnly = operations.filter((o) => o.requiredRole === 'admin').map((o) => o.id);
    expect(adminOnly.sort()).to.deep.equal([
      'deleteUser',
      'disableUser',
      'enableUser',
      'endUserSessions',
      'listAuditEvents',
      'resetUserMfa',
      'searchUsers',
      'setUserRole',
    ]);
    expect(operations.filter((o) => o.requiredRole !== undefined && o.requiredRole !== 'admin')).to.deep.equal([]);
  });

  it('reads which operation fetches a profile with the session, and by which path parameter', () => {
    const withSession = operations.filter((o) => o.profileWithSession !== undefined);
    expect(withSession.map((o) => [o.id, o.profileWithSession])).to.deep.equal([['getUser', 'user_id']]);
  });

  it('knows which operations an account may call before verifying its email', () => {
    const allowed = operations.filter((o) => o.allowedBeforeEmailVerification).map((o) => o.id);
    expect(allowed.sort()).to.deep.equal(['closeAccount', 'logout', 'resendVerificationEmail']);
  });

  it('documents the unverified-email 403 wherever a token may be refused for it', () => {
    // Every operation that reads a token and is not allowed before verification, and login.
    const gated = operations.filter(
      (o) => (o.tokenRequirement !== 'none' && !o.allowedBeforeEmailVerification) || o.id === 'login',
    );
    for (const operation of gated) {
      const response = Object.values(spec.paths)
        .flatMap((methods) => Object.values(methods))
        .find((o) => o.operationId === operation.id)!.responses['403'];
      expect(errorTextsOf(spec, response), operation.id).to.include('Email address not verified');
    }
  });
});
