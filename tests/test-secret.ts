/** The fixed secret of the in-workerd suite (vitest.config.ts binds it). Never used by `npm start`. */
export const TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef";
