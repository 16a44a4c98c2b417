// The functions' schemas are built with zod's mini API. Classic zod gives every schema instance its whole
// method set and brings its JSON-schema generator, none of which tree-shakes: ~60 KiB of every cold start,
// and CPU to build each schema at import. Mini is the same core (same parsing, same issues); the
// English messages are installed here, as classic does by default, so every error text stays as it was.
// Code outside lambdas/ (enclave, CLI, CDK) keeps classic zod; both accept each other's schemas.
// Import it as a namespace (`import * as z from '…/runtime/zod'`): esbuild then keeps only the members used.
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
