import './base.css';
import './jobview.css';
