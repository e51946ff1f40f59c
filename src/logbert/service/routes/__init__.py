"""HTTP routes: validate the schema, call the session store, return the schema."""
