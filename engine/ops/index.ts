/** Registers every primitive op (engine/ir/registry). */
import './sources';
import './elementwise';
import './reduce';
import './layout';
