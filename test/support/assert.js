'use strict';
const assert = require('node:assert/strict');

/** Awaits a promise that must reject with an error carrying `code`; returns the error. */
async function rejectsWithCode(promise, code) {
  let error;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  assert.ok(error, `expected a rejection with ${code}, but it resolved`);
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  return error;
}

/** Calls a function that must throw an error carrying `code`; returns the error. */
function throwsWithCode(fn, code) {
  let error;
  try {
    fn();
  } catch (caught) {
    error = caught;
  }
  assert.ok(error, `expected ${code} to be thrown`);
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  return error;
}

module.exports = { rejectsWithCode, throwsWithCode };
