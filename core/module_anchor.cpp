// Gives every module library at least one translation unit, so a module folder that holds only headers (or
// none yet) still configures. Intentionally empty.
