import { expect } from 'chai';
import { loadSpec, operationsOf, resolveOperation } from '../../src/http/spec.js';

describe('spec operation table', () => {
  const operations = operationsOf(loadSpec());

  it('has the eight operations of the contract', () => {
    expect(operations.map((o) => o.id)).to.have.members([
      'createUser', 'getUser', 'updateUser', 'updateUserPassword', 'listUsers', 'login', 'logout', 'checkToken',
    ]);
  });

  it('resolves fixed paths before templates', () => {
    expect(resolveOperation(operations, 'GET', '/users/pagination')?.id).to.equal('listUsers');
    expect(resolveOperation(operations, 'GET', '/users/12')?.id).to.equal('getUser');
    expect(resolveOperation(operations, 'PUT', '/users/update/12')?.id).to.equal('updateUser');
    expect(resolveOperation(operations, 'DELETE', '/users/12')).to.equal(undefined);
  });

  it('reads who needs a token from the spec', () => {
    const requirement = Object.fromEntries(operations.map((o) => [o.id, o.tokenRequirement]));
    expect(requirement).to.deep.equal({
      createUser: 'optional', listUsers: 'optional', login: 'none',
      getUser: 'required', updateUser: 'required', updateUserPassword: 'required', logout: 'required', checkToken: 'required',
    });
  });
});
