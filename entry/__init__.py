"""The commands' bodies: ``train.py`` and ``test.py`` at the top of the tree parse nothing themselves and
call ``entry.train.main`` and ``entry.test.main``, so the import contracts cover what they run."""
