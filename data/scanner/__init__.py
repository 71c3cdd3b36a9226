"""Scanner data in and out: DICOM (classic and enhanced MR, DICOM SEG) and NIfTI to the subject file format
and back, and masks added to a subject later.

Commands: ``python -m data.scanner.import_dicom``, ``import_nifti``, ``add_masks``, ``export_dicom``,
``export_nifti``. Everything here builds or reads ``data.mvm_io`` subjects; nothing imports the phantom
or the stages' datasets.
"""
