// Draws figures off the page's main thread: normalising ~50k values, colouring and lettering take tens of ms, which
// would stall the page while the explanation worker keeps the CPU busy.
import { serveFigureWorker } from './figures.js';
import type { WorkerScope } from './protocol.js';

serveFigureWorker(self as unknown as WorkerScope);
