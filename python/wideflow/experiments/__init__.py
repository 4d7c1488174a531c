"""Paper reproductions and demos: thin scripts over the public API, each with `reproduce(out_dir, quick)`."""
