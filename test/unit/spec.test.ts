import { expect } from 'chai';
import { loadSpec, operationsOf, resolveOperation } from '../../src/http/spec.js';

describe('spec operation table', () => {
  const operations = operationsOf(loadSpec());

  it('has the eight operations of the contract, and the two health probes', () => {
    expect(operations.map((o) => o.id)).to.have.members([
      'createUser', 'getUser', 'updateUser', 'updateUserPassword', 'listUsers', 'login', 'logout', 'checkToken',
      'checkLiveness', 'checkReadiness',
    ]);
  });

  it('resolves fixed paths before templates', () => {
    expect(resolveOperation(operations, 'GET', '/users/pagination')?.operation.id).to.equal('listUsers');
    expect(resolveOperation(operations, 'GET', '/users/12')?.operation.id).to.equal('getUser');
    expect(resolveOperation(operations, 'PUT', '/users/update/12')?.operation.id).to.equal('updateUser');
    expect(resolveOperation(operations, 'DELETE', '/users/12')).to.equal(undefined);
  });

  it('keeps path parameters percent-encoded, for a check that can refuse bad escapes', () => {
    expect(resolveOperation(operations, 'GET', '/users/%41')?.params).to.deep.equal({ user_id: '%41' });
  });

  it('knows which parameters are integers', () => {
    const byId = Object.fromEntries(operations.map((o) => [o.id, o.integerParameters]));
    expect(byId.getUser).to.deep.equal([{ in: 'path', name: 'user_id' }]);
    expect(byId.listUsers).to.deep.equal([
      { in: 'query', name: 'page' },
      { in: 'query', name: 'per_page' },
    ]);
    expect(byId.login).to.deep.equal([]);
  });

  it('reads who needs a token from the spec', () => {
    const requirement = Object.fromEntries(operations.map((o) => [o.id, o.tokenRequirement]));
    expect(requirement).to.deep.equal({
      createUser: 'optional', listUsers: 'optional', login: 'none',
      getUser: 'required', updateUser: 'required', updateUserPassword: 'required', logout: 'required', checkToken: 'required',
      checkLiveness: 'none', checkReadiness: 'none',
    });
  });
});
